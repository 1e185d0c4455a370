// Keeps the inbox and the escalation page current without a reload. The
// server renders everything; this script only:
//  - counts deadlines down (.countdown with data-start and data-due),
//    turning them amber when a quarter of the time (at least 15 minutes)
//    is left and red once passed, the same rule as the server's;
//  - on the inbox, fetches the rows the server renders every 10 seconds
//    and swaps them in, with the count of urgent escalations nobody has
//    claimed in the window's title.
// Without it the pages work the same, and show what was true when loaded.
(function () {
  'use strict';

  function span(ms) {
    var min = Math.floor(ms / 60000);
    if (min < 1) { return 'less than a minute'; }
    if (min < 60) { return min + ' min'; }
    var h = Math.floor(min / 60);
    if (h < 48) { return min % 60 ? h + ' h ' + (min % 60) + ' min' : h + ' h'; }
    return Math.floor(h / 24) + ' days';
  }

  function tick() {
    var now = Date.now();
    var els = document.querySelectorAll('.countdown[data-due]');
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var start = Date.parse(el.getAttribute('data-start'));
      var due = Date.parse(el.getAttribute('data-due'));
      var label = el.getAttribute('data-label');
      if (isNaN(start) || isNaN(due)) { continue; }
      var left = due - now;
      var soon = Math.max((due - start) / 4, 15 * 60000);
      var cls, text;
      if (left < 0) {
        cls = 'late'; text = label + ': overdue by ' + span(-left);
      } else {
        cls = left < soon ? 'soon' : 'ok'; text = label + ' within ' + span(left);
      }
      el.className = 'countdown cd-' + cls;
      if (el.textContent !== text) { el.textContent = text; }
    }
  }
  tick();
  setInterval(tick, 15000);

  // The filters fold away on a phone, so the list comes first; on a wide
  // screen they are open.
  var more = document.getElementById('more-filters');
  if (more && window.matchMedia && window.matchMedia('(min-width: 40rem)').matches) { more.open = true; }

  var live = document.getElementById('live');
  var status = document.getElementById('live-status');
  if (!live || !window.fetch) { return; }
  var url = live.getAttribute('data-url');
  var lastUrgent = null;
  var counts = document.getElementById('counts');
  if (counts) { lastUrgent = parseInt(counts.getAttribute('data-urgent-unclaimed'), 10); }

  function poll() {
    if (document.hidden) { return; }
    fetch(url, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        document.title = data.title;
        // Do not pull the list from under a handler who is in it.
        if (!live.contains(document.activeElement)) {
          live.innerHTML = data.html;
          tick();
        }
        if (lastUrgent !== null && data.urgent_unclaimed > lastUrgent && status) {
          status.textContent = 'New urgent escalation: ' + data.urgent_unclaimed + ' urgent not claimed.';
        }
        lastUrgent = data.urgent_unclaimed;
      })
      .catch(function () { /* the next poll tries again */ });
  }
  setInterval(poll, 10000);
  document.addEventListener('visibilitychange', poll);
}());
