// Abacus behaviour that the Content-Security-Policy keeps out of inline attributes.
(function () {
  "use strict";
  // Mark swap targets busy while a request is in flight (dims them via CSS).
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var target = evt.detail.target;
    // Polling panels pause while the tab is hidden.
    if (evt.detail.elt && evt.detail.elt.hasAttribute("data-poll") && document.visibilityState !== "visible") {
      evt.preventDefault();
      return;
    }
    if (target) target.setAttribute("aria-busy", "true");
    document.getElementById("loading-bar")?.classList.add("htmx-request");
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    if (evt.detail.target) evt.detail.target.removeAttribute("aria-busy");
    document.getElementById("loading-bar")?.classList.remove("htmx-request");
  });
  // A confirm step for destructive buttons (data-confirm="…").
  document.addEventListener("submit", function (evt) {
    var msg = evt.target.getAttribute && evt.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) evt.preventDefault();
  }, true);
  document.addEventListener("htmx:confirm", function (evt) {
    var msg = evt.detail.elt.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) evt.preventDefault();
  });
  // Close the custom range popover and the user menu when clicking elsewhere.
  document.addEventListener("click", function (evt) {
    document.querySelectorAll("details[open].range-custom, details[open].usermenu").forEach(function (d) {
      if (!d.contains(evt.target)) d.removeAttribute("open");
    });
  });
})();
