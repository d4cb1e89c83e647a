// Review keyboard navigation and box drawing. Progressive: every action is
// a plain form that works without this file.
(function () {
  "use strict";

  var cards = Array.prototype.slice.call(document.querySelectorAll(".face-card"));
  var selected = null;

  function select(card, scroll) {
    if (!card) { return; }
    cards.forEach(function (c) { c.classList.remove("selected"); });
    document.querySelectorAll(".facebox.selected").forEach(function (b) { b.classList.remove("selected"); });
    card.classList.add("selected");
    var box = document.querySelector('.facebox[data-face="' + card.dataset.face + '"]');
    if (box) { box.classList.add("selected"); }
    selected = card;
    if (scroll) { card.scrollIntoView({ block: "nearest" }); }
  }

  function initialSelection() {
    var fromHash = location.hash ? document.querySelector(location.hash + ".face-card") : null;
    select(fromHash || document.querySelector(".face-card.attention") || cards[0], !!fromHash);
  }

  cards.forEach(function (card) {
    card.addEventListener("click", function () { select(card, false); });
    card.addEventListener("focus", function () { select(card, false); });
  });
  document.querySelectorAll(".facebox").forEach(function (box) {
    box.addEventListener("click", function (ev) {
      ev.preventDefault();
      select(document.getElementById("face-" + box.dataset.face), true);
    });
  });

  function go(id) {
    var link = document.getElementById(id);
    if (link) { location.href = link.href; }
  }

  function act(key) {
    if (!selected) { return false; }
    var el = selected.querySelector('[data-key="' + key + '"]');
    if (!el) { return false; }
    if (el.tagName === "SUMMARY") {
      var details = el.parentElement;
      details.open = true;
      var field = details.querySelector("textarea, input[name=q]");
      if (field) { field.focus(); }
    } else {
      el.click();
    }
    return true;
  }

  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || ev.ctrlKey || ev.metaKey || ev.altKey) {
      if (ev.key === "Escape" && ev.target.blur) { ev.target.blur(); }
      return;
    }
    var handled = true;
    switch (ev.key) {
      case "j": case "ArrowRight": go("nav-next"); break;
      case "k": case "ArrowLeft": go("nav-prev"); break;
      case "f": case "ArrowDown": {
        var i = cards.indexOf(selected);
        select(cards[(i + 1) % cards.length], true);
        break;
      }
      case "ArrowUp": {
        var k = cards.indexOf(selected);
        select(cards[(k - 1 + cards.length) % cards.length], true);
        break;
      }
      case "d": toggleDraw(); break;
      case "Enter": {
        var open = selected && selected.querySelector("[data-open]");
        if (open) { open.click(); } else { handled = false; }
        break;
      }
      case "1": case "2": case "3": case "4": case "5": case "u":
        handled = act(ev.key); break;
      default: handled = false;
    }
    if (handled) { ev.preventDefault(); }
  });

  // Drawing a box for a missed face: drag on the photo; coordinates are
  // converted to the original's pixels and put in the (visible) form.
  var stage = document.getElementById("stage");
  var img = document.getElementById("photo-img");
  var drawbox = document.getElementById("drawbox");
  var form = document.getElementById("draw-form");
  var toggle = document.getElementById("draw-toggle");
  var drawing = false, start = null;

  function toggleDraw() {
    if (!stage) { return; }
    drawing = !drawing;
    stage.classList.toggle("drawing", drawing);
  }
  if (toggle) { toggle.addEventListener("click", toggleDraw); }

  function point(ev) {
    var r = img.getBoundingClientRect();
    var t = ev.touches ? ev.touches[0] : ev;
    return { x: Math.max(0, Math.min(r.width, t.clientX - r.left)), y: Math.max(0, Math.min(r.height, t.clientY - r.top)), w: r.width, h: r.height };
  }

  function update(a, b) {
    var left = Math.min(a.x, b.x), top = Math.min(a.y, b.y);
    drawbox.hidden = false;
    drawbox.style.left = left + "px"; drawbox.style.top = top + "px";
    drawbox.style.width = Math.abs(a.x - b.x) + "px"; drawbox.style.height = Math.abs(a.y - b.y) + "px";
    var sx = Number(stage.dataset.width) / a.w, sy = Number(stage.dataset.height) / a.h;
    form.left.value = Math.round(left * sx);
    form.top.value = Math.round(top * sy);
    form.right.value = Math.round(Math.max(a.x, b.x) * sx);
    form.bottom.value = Math.round(Math.max(a.y, b.y) * sy);
  }

  if (stage && img && form) {
    var down = function (ev) { if (!drawing) { return; } ev.preventDefault(); start = point(ev); update(start, start); };
    var move = function (ev) { if (!drawing || !start) { return; } ev.preventDefault(); update(start, point(ev)); };
    var up = function () { start = null; };
    stage.addEventListener("mousedown", down);
    stage.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
    stage.addEventListener("touchstart", down, { passive: false });
    stage.addEventListener("touchmove", move, { passive: false });
    stage.addEventListener("touchend", up);
  }

  initialSelection();
})();
