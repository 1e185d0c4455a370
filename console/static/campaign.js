// Keeps an open campaign page current without a reload. The server
// renders everything; while the campaign is running or paused this script
// only:
//  - fetches the page's figures as the server renders them (the funnel,
//    chart, breakdowns, needs, escalations), its state and controls, every
//    data-every milliseconds, and swaps them in, marking the funnel rows
//    that changed;
//  - says how old the figures are, counting the seconds, and warns when
//    they have not been recounted for three refreshes of the workers, or
//    when fetching them fails.
// Without it the page works the same, and shows what was true when loaded.
(function () {
  'use strict';

  var live = document.getElementById('live');
  var at = document.getElementById('figures-at');
  var ago = document.getElementById('figures-ago');
  var age = document.getElementById('figures-age');
  if (!live || !at || !ago || !window.fetch || !live.getAttribute('data-url')) { return; }
  var url = live.getAttribute('data-url');
  var every = parseInt(live.getAttribute('data-every'), 10) || 15000;
  var refresh = parseInt(live.getAttribute('data-refresh'), 10) || 30000;
  // skew is the server's clock minus the browser's, learnt when the page
  // was rendered and again at each fetch.
  var skew = 0;
  var rendered = Date.parse(live.getAttribute('data-now'));
  if (!isNaN(rendered)) { skew = rendered - Date.now(); }
  var failures = 0;
  var timer = null;
  var stopped = false;

  function plural(n, unit) { return n + ' ' + unit + (n === 1 ? '' : 's'); }

  // The same words as the server's figuresAgo.
  function agoText(ms) {
    var s = Math.floor(ms / 1000);
    if (s < 2) { return 'just now'; }
    if (s < 60) { return s + ' seconds ago'; }
    var min = Math.floor(s / 60);
    if (min < 60) { return min + ' min ago'; }
    var h = Math.floor(min / 60);
    if (h < 48) { return (min % 60 ? h + ' h ' + (min % 60) + ' min' : h + ' h') + ' ago'; }
    return plural(Math.floor(h / 24), 'day') + ' ago';
  }

  function tick() {
    var t = Date.parse(at.getAttribute('datetime'));
    if (isNaN(t)) { return; }
    var old = Date.now() + skew - t;
    var text = agoText(Math.max(old, 0));
    if (ago.textContent !== text) { ago.textContent = text; }
    if (age) {
      var stale = failures >= 3 || (!stopped && old > 3 * refresh + every);
      age.classList.toggle('stale', stale);
    }
  }

  function funnelValues() {
    var out = {};
    var rows = live.querySelectorAll('#funnel tr[data-stage]');
    for (var i = 0; i < rows.length; i++) {
      var n = rows[i].querySelector('td.n');
      if (n) { out[rows[i].getAttribute('data-stage')] = n.textContent; }
    }
    return out;
  }

  function note(text) {
    var el = document.getElementById('live-note');
    if (el && el.textContent !== text) { el.textContent = text; }
  }

  function apply(data) {
    if (typeof data.now === 'string') {
      var server = Date.parse(data.now);
      if (!isNaN(server)) { skew = server - Date.now(); }
    }
    if (data.unchanged) { tick(); return; }
    // Do not pull the figures from under a lead who is in them (a
    // keyboard on a table, say).
    if (!live.contains(document.activeElement)) {
      var before = funnelValues();
      live.innerHTML = data.html;
      var rows = live.querySelectorAll('#funnel tr[data-stage]');
      for (var i = 0; i < rows.length; i++) {
        var n = rows[i].querySelector('td.n');
        var stage = rows[i].getAttribute('data-stage');
        if (n && before[stage] !== undefined && before[stage] !== n.textContent) { rows[i].classList.add('changed'); }
      }
    }
    if (age && typeof data.age === 'string') { age.innerHTML = data.age; }
    at = document.getElementById('figures-at');
    ago = document.getElementById('figures-ago');
    var state = document.getElementById('state');
    if (state && data.state && state.textContent !== data.state) {
      state.textContent = data.state;
      state.className = 'state state-' + data.state;
      var controls = document.getElementById('controls');
      if (controls && !controls.contains(document.activeElement)) { controls.innerHTML = data.controls; }
    }
    var counts = data.counts || {};
    var spans = document.querySelectorAll('[data-count]');
    for (var j = 0; j < spans.length; j++) {
      var v = counts[spans[j].getAttribute('data-count')];
      if (typeof v === 'string' && spans[j].textContent !== v) { spans[j].textContent = v; }
    }
    live.setAttribute('data-state', data.state);
    if (!data.live) {
      // Completed or cancelled: the figures no longer move by themselves.
      stopped = true;
      note('the campaign is ' + data.state + ': reload the page for later figures');
    }
    tick();
  }

  function poll() {
    timer = null;
    if (stopped) { return; }
    if (document.hidden) { schedule(); return; }
    var since = at.getAttribute('datetime') || '';
    var state = live.getAttribute('data-state') || '';
    fetch(url + '?since=' + encodeURIComponent(since) + '&state=' + encodeURIComponent(state), {credentials: 'same-origin', headers: {'Accept': 'application/json'}, cache: 'no-store'})
      .then(function (resp) {
        if (!resp.ok) { throw new Error('status ' + resp.status); }
        return resp.json();
      })
      .then(function (data) {
        failures = 0;
        apply(data);
        schedule();
      })
      .catch(function () {
        failures++;
        if (failures >= 3) {
          // Logged out, or the server is away: say so rather than show
          // old figures as if current.
          note('live updates have stopped: reload the page');
          tick();
        }
        schedule();
      });
  }

  function schedule() {
    if (!stopped && timer === null) { timer = setTimeout(poll, failures ? Math.min(every * (failures + 1), 60000) : every); }
  }

  tick();
  setInterval(tick, 1000);
  schedule();
  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && timer !== null) { clearTimeout(timer); timer = null; poll(); }
  });
}());
