// HTML for Bookinfo's product page and index, following the layout of Istio's templates.

export interface Product {
  id: number;
  title: string;
  descriptionHtml: string;
}

export interface Review {
  reviewer?: string;
  text?: string;
  rating?: { stars?: number; color?: string; error?: string };
}

export interface PageData {
  product: Product;
  user: string;
  detailsStatus: number;
  details: Record<string, unknown>;
  reviewsStatus: number;
  reviews: { reviews?: Review[]; podname?: string; clustername?: string; error?: string };
}

export function escapeHtml(s: unknown): string {
  const text = typeof s === 'string' ? s : typeof s === 'number' || typeof s === 'boolean' ? String(s) : (JSON.stringify(s) ?? '');
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1.0">
</head>
<body>
${body}
</body>
</html>
`;
}

function stars(rating: NonNullable<Review['rating']>): string {
  if (typeof rating.stars === 'number') {
    const n = Math.max(0, Math.min(5, Math.trunc(rating.stars)));
    // Bootstrap's glyphicon classes as Istio's page uses them, with the star as text so it shows without Bootstrap.
    const full = '<span class="glyphicon glyphicon-star">&#9733;</span>\n'.repeat(n);
    const empty = '<span class="glyphicon glyphicon-star-empty">&#9734;</span>\n'.repeat(5 - n);
    return `<font color="${escapeHtml(rating.color ?? 'black')}">\n${full}${empty}</font>\n`;
  }
  if (rating.error) return `<p><i>${escapeHtml(rating.error)}</i></p>\n`;
  return '';
}

function detailsHtml(d: PageData): string {
  if (d.detailsStatus !== 200) {
    return `<h4 class="text-center text-primary">Error fetching product details!</h4>\n<p>${escapeHtml(d.details.error)}</p>\n`;
  }
  const rows: [string, string][] = [
    ['Type', 'type'], ['Pages', 'pages'], ['Publisher', 'publisher'], ['Language', 'language'], ['ISBN-10', 'ISBN-10'], ['ISBN-13', 'ISBN-13'],
  ];
  const dl = rows.map(([label, key]) => `<dt>${label}:</dt>${escapeHtml(d.details[key])}`).join('\n');
  return `<h4 class="text-center text-primary">Book Details</h4>\n<dl>\n${dl}\n</dl>\n`;
}

function reviewsHtml(d: PageData): string {
  if (d.reviewsStatus !== 200) {
    return `<h4 class="text-center text-primary">Error fetching product reviews!</h4>\n<p>${escapeHtml(d.reviews.error)}</p>\n`;
  }
  const items = (d.reviews.reviews ?? []).map((r) =>
    `<blockquote>\n<p>${escapeHtml(r.text)}</p>\n<small>${escapeHtml(r.reviewer)}</small>\n${r.rating ? stars(r.rating) : ''}</blockquote>`,
  );
  const cluster = d.reviews.clustername && d.reviews.clustername !== 'null' ? ` on cluster <u>${escapeHtml(d.reviews.clustername)}</u>` : '';
  return `<h4 class="text-center text-primary">Book Reviews</h4>\n${items.join('\n')}\n<dl>\n<dt>Reviews served by:</dt>\n<u>${escapeHtml(d.reviews.podname)}</u>${cluster}\n</dl>\n`;
}

export function renderProductPage(d: PageData): string {
  const nav = d.user
    ? `<p>welcome <b>${escapeHtml(d.user)}</b> <a href="logout">sign out</a></p>`
    : `<form method="post" action="login"><input type="text" name="username" placeholder="User Name"><input type="password" name="passwd" placeholder="Password"><button type="submit">Sign in</button></form>`;
  return page(
    'Simple Bookstore App',
    `<nav><a href="#">BookInfo Sample</a> ${nav}</nav>
<div class="container-fluid">
<h3 class="text-center text-primary">${escapeHtml(d.product.title)}</h3>
<p>Summary: ${d.product.descriptionHtml}</p>
<div class="row">
<div class="col-md-6">
${detailsHtml(d)}</div>
<div class="col-md-6">
${reviewsHtml(d)}</div>
</div>
</div>`,
  );
}

export function renderIndex(services: { name: string; endpoint: string }[]): string {
  const rows = services.map((s) => `<tr><td>${escapeHtml(s.name)}</td><td>${escapeHtml(s.endpoint)}</td></tr>`).join('\n');
  return page(
    'Simple Bookstore App',
    `<h3>Hello! This is a simple bookstore application consisting of three services as shown below</h3>
<table class="table table-condensed table-bordered table-hover">
<tr><th>name</th><th>endpoint</th></tr>
${rows}
</table>
<p><h4>Click on one of the links below to auto generate a request to the backend as a real user or a tester</h4></p>
<p><a href="/productpage?u=normal">Normal user</a></p>
<p><a href="/productpage?u=test">Test user</a></p>`,
  );
}
