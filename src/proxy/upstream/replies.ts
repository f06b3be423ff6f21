// Bodies of Envoy's upstream local replies (what curl shows on 503 UF/UC/UO and 504 UT).
export const UF_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection failure';
export const UC_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection termination';
export const UO_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: overflow';
export const UT_BODY = 'upstream request timeout';
