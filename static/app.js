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
  // Close the custom range popover, the user menu and the phone menu when clicking elsewhere.
  var POPOVERS = "details[open].range-custom, details[open].usermenu, details[open].navmenu";
  document.addEventListener("click", function (evt) {
    document.querySelectorAll(POPOVERS).forEach(function (d) {
      if (!d.contains(evt.target)) d.removeAttribute("open");
    });
  });
  // Escape closes the innermost open popover and puts focus back on its summary.
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape") return;
    var open = Array.prototype.slice.call(document.querySelectorAll(POPOVERS));
    var inner = open.filter(function (d) { return d.contains(document.activeElement); }).pop() || open.pop();
    if (!inner) return;
    inner.removeAttribute("open");
    inner.querySelector("summary").focus();
    evt.preventDefault();
  });

  // Focus after a swap. The element that had focus is usually replaced by the swap (a range button, a sort header,
  // a chip, Apply): find its counterpart in the new content, or else the swapped region's heading, so keyboard and
  // screen-reader users are not dropped back to <body>.
  var pendingFocus = null;
  function labelOf(el) {
    return (el.getAttribute("aria-label") || el.textContent || "").replace(/[^\p{L}\p{N}]+/gu, " ").trim();
  }
  function groupOf(el) {
    var g = el.closest("[role=group], nav, form, th, .card");
    if (!g) return "";
    if (g.tagName === "TH") return "th:" + Array.prototype.indexOf.call(g.parentNode.children, g);
    return g.tagName + ":" + (g.getAttribute("aria-label") || g.id || g.getAttribute("action") || "");
  }
  function isVisible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) && !el.closest("details:not([open]) > :not(summary)");
  }
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    var active = document.activeElement;
    pendingFocus = null;
    if (!target || !active || active === document.body || !target.contains(active)) return;
    pendingFocus = {
      targetId: target.id,
      id: active.id,
      tag: active.tagName,
      name: active.getAttribute("name"),
      label: labelOf(active),
      group: groupOf(active),
    };
  });
  document.addEventListener("htmx:afterSettle", function () {
    var want = pendingFocus;
    pendingFocus = null;
    if (!want) return;
    var active = document.activeElement;
    if (active && active !== document.body && active.isConnected) return; // focus survived (e.g. hx-preserve)
    var region = (want.targetId && document.getElementById(want.targetId)) || document.getElementById("main");
    if (!region) return;
    var found = null;
    if (want.id) found = document.getElementById(want.id);
    if (!found) {
      var same = region.querySelectorAll(want.tag.toLowerCase());
      for (var i = 0; i < same.length && !found; i++) {
        var el = same[i];
        if (labelOf(el) === want.label && groupOf(el) === want.group && (el.getAttribute("name") === want.name)) found = el;
      }
    }
    // A control inside a closed <details> (Apply in the Custom range popover) → that details' summary.
    if (found && !isVisible(found)) {
      var closed = found.closest("details:not([open])");
      found = closed && isVisible(closed) ? closed.querySelector("summary") : null;
    }
    if (!found || !isVisible(found)) {
      found = region.querySelector("h1, h2, h3") || region;
      if (!found.hasAttribute("tabindex")) found.setAttribute("tabindex", "-1");
    }
    found.focus();
  });

  // A table wider than its card scrolls inside it; a keyboard user must be able to reach and scroll it too.
  function markScrollableTables() {
    document.querySelectorAll(".table-wrap, .table-scroll, .chart-frame, .guide-body pre").forEach(function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        if (!wrap.hasAttribute("tabindex")) {
          var card = wrap.closest(".card, section");
          var heading = card && card.querySelector("h2, h3");
          var what = wrap.tagName === "PRE" ? "code" : wrap.classList.contains("chart-frame") ? "chart" : "table";
          wrap.setAttribute("tabindex", "0");
          wrap.setAttribute("role", "region");
          wrap.setAttribute("aria-label", (heading ? heading.textContent.trim() + " " : "") + what + ", scrolls sideways");
        }
      } else if (wrap.getAttribute("tabindex") === "0") {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", markScrollableTables);
  document.addEventListener("htmx:afterSettle", markScrollableTables);
  window.addEventListener("resize", markScrollableTables);
})();
