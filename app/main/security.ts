/**
 * One Content-Security-Policy for the Electron window and web mode: only our own scripts and
 * styles, WebSocket back to the page's own origin (web mode), images from data: URLs (QR codes).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws://127.0.0.1:* ws://localhost:*",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The same policy for a <meta http-equiv> tag in index.html, so it holds wherever the page is
 * loaded from; frame-ancestors is header-only (browsers ignore it in a meta tag).
 */
export const META_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.split('; ').filter((d) => !d.startsWith('frame-ancestors')).join('; ');
