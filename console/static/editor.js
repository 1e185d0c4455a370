// Live report for the template editor. As the body is typed (debounced),
// it posts the body to the console's check endpoint with the form's CSRF
// token and swaps in the report panel the server rendered, so the page
// and this script show the same thing. Without this script the Preview
// button posts the form and the server renders the same report.
(function () {
  'use strict';
  var form = document.getElementById('editor-form');
  var body = document.getElementById('body');
  var panel = document.getElementById('report');
  var status = document.getElementById('report-status');
  if (!form || !body || !panel || !window.fetch) {
    return;
  }
  var url = form.getAttribute('data-check');
  var csrf = form.querySelector('input[name="csrf"]').value;
  var timer = null;
  var seq = 0;

  function check() {
    var mine = ++seq;
    var data = new URLSearchParams();
    data.set('csrf', csrf);
    data.set('body', body.value);
    panel.setAttribute('aria-busy', 'true');
    fetch(url, {method: 'POST', body: data, credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (resp) {
        return resp.json().then(function (json) { return {ok: resp.ok, json: json}; });
      })
      .then(function (res) {
        if (mine !== seq) {
          return; // a newer check is on its way
        }
        panel.removeAttribute('aria-busy');
        if (!res.ok) {
          status.textContent = res.json.error || 'The report could not be updated.';
          return;
        }
        panel.innerHTML = res.json.html;
        status.textContent = '';
      })
      .catch(function () {
        if (mine === seq) {
          panel.removeAttribute('aria-busy');
          status.textContent = 'The report could not be updated. Reload the page (you may need to log in again).';
        }
      });
  }

  body.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  });
  // One-click replacement of the characters that force Unicode: the
  // server sends the replaced body with the button.
  panel.addEventListener('click', function (ev) {
    var button = ev.target.closest('#use-gsm');
    if (!button) {
      return;
    }
    ev.preventDefault();
    body.value = button.getAttribute('data-gsm-body');
    body.focus();
    check();
  });
  form.classList.add('live-report');
})();
