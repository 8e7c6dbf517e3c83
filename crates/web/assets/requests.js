// Sends the request form (multipart, with the scanned written request) with the session's
// CSRF token in a header, then follows the server's redirect to the new request's page.
// Strings come from the server's table (script#i18n).
const i18n = JSON.parse(document.getElementById('i18n')?.textContent || '{}');
const tr = (k) => i18n[k] || k;
const csrf = document.querySelector('meta[name=csrf]')?.content || '';
const form = document.querySelector('form#request');
if (form) {
  const err = form.querySelector('.error');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const r = await fetch(form.action, {
        method: 'POST',
        body: new FormData(form),
        headers: { 'X-CSRF-Token': csrf },
        credentials: 'same-origin',
      });
      if (r.ok) {
        window.location.assign(r.url);
        return;
      }
      const text = await r.text();
      const doc = new DOMParser().parseFromString(text, 'text/html');
      err.textContent = doc.querySelector('.error')?.textContent || text || tr('error.internal');
      err.hidden = false;
    } catch (e) {
      err.textContent = tr('error.internal');
      err.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}
