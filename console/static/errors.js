// Focus a page's error summary when it loads, as the NHS pattern asks:
// a screen reader reads the problems first and Tab goes on to their links.
(function () {
  "use strict";
  var s = document.getElementById("error-summary");
  if (s) {
    if (!s.hasAttribute("tabindex")) s.setAttribute("tabindex", "-1");
    s.focus();
  }
})();
