// Review pages: a keyboard-driven grid of faces, multi-select for bulk
// actions, a live people search that assigns without reloading, and box
// drawing. Progressive: every action is a plain form that works without it.
(function () {
  "use strict";

  var grid = document.getElementById("face-grid");
  var cards = Array.prototype.slice.call(document.querySelectorAll(grid ? "#face-grid .tile" : ".face-card"));
  var panel = document.getElementById("panel");
  var bulkForm = document.getElementById("bulk-form");
  var current = null;

  function versionInputs() { return document.querySelectorAll('input[name="version"]'); }

  function setVersion(v) {
    versionInputs().forEach(function (input) { input.value = v; });
  }

  // --- the current face -------------------------------------------------------

  function select(card, scroll) {
    if (!card) { return; }
    cards.forEach(function (c) { c.classList.remove("selected"); });
    document.querySelectorAll(".facebox.selected").forEach(function (b) { b.classList.remove("selected"); });
    card.classList.add("selected");
    var box = document.querySelector('.facebox[data-face="' + card.dataset.face + '"]');
    if (box) { box.classList.add("selected"); }
    current = card;
    if (scroll) { card.focus({ preventScroll: true }); card.scrollIntoView({ block: "nearest" }); }
    showInPanel(card);
  }

  function showInPanel(card) {
    if (!panel || !card.dataset.number) { return; }
    if (panel.dataset.face === card.dataset.face) { return; }
    panel.dataset.face = card.dataset.face;
    var id = card.dataset.face;
    var number = document.getElementById("panel-number");
    if (number) { number.textContent = card.dataset.number; }
    var crop = document.getElementById("panel-crop");
    if (crop) { crop.src = card.dataset.crop; }
    var external = document.getElementById("external-form");
    if (external) { external.action = panel.dataset.decideUrl.replace("999999999", id); }
    var searchFace = document.getElementById("search-face");
    if (searchFace) { searchFace.value = id; }
    var results = document.getElementById("live-results");
    if (results) { results.innerHTML = ""; }
    var q = document.getElementById("live-q");
    if (q && q.value.trim()) { search(q.value); }
  }

  function bind(card) {
    card.addEventListener("click", function (ev) {
      if (ev.target.closest("button, a, input")) { return; }
      select(card, false);
    });
    card.addEventListener("focus", function () { select(card, false); });
    var box = card.querySelector('input[name="face_ids"]');
    if (box) { box.addEventListener("change", countSelected); }
    var num = card.querySelector("a.num");
    if (num && panel) {
      num.addEventListener("click", function (ev) { ev.preventDefault(); select(card, false); card.focus(); });
    }
  }
  cards.forEach(bind);

  document.querySelectorAll(".facebox").forEach(function (box) {
    box.addEventListener("click", function (ev) {
      ev.preventDefault();
      select(document.getElementById("face-" + box.dataset.face), true);
    });
  });

  function initialSelection() {
    var fromHash = location.hash ? document.querySelector(location.hash + ".face-card, " + location.hash + ".tile") : null;
    var fromPanel = panel && panel.dataset.face ? document.getElementById("face-" + panel.dataset.face) : null;
    select(fromHash || fromPanel || document.querySelector(".tile.attention, .face-card.attention") || cards[0], !!fromHash);
  }

  // --- multi-select and bulk actions -----------------------------------------

  function checkbox(card) { return card.querySelector('input[name="face_ids"]'); }

  function countSelected() {
    var n = cards.filter(function (c) { var b = checkbox(c); return b && b.checked; }).length;
    var out = document.getElementById("bulk-count");
    if (out) { out.textContent = n; }
    cards.forEach(function (c) { var b = checkbox(c); c.classList.toggle("picked", !!(b && b.checked)); });
  }

  function toggle(card) {
    var box = card && checkbox(card);
    if (box) { box.checked = !box.checked; countSelected(); }
  }

  function selectUnidentified() {
    cards.forEach(function (c) {
      var box = checkbox(c);
      // Every face nobody decided yet (identified or not, a face needs a decision).
      if (box) { box.checked = c.classList.contains("attention"); }
    });
    countSelected();
  }

  function clearSelection() {
    cards.forEach(function (c) { var box = checkbox(c); if (box) { box.checked = false; } });
    countSelected();
  }

  if (bulkForm) {
    var all = document.getElementById("select-unidentified");
    var none = document.getElementById("select-none");
    all.hidden = false; none.hidden = false;
    all.addEventListener("click", selectUnidentified);
    none.addEventListener("click", clearSelection);
  }

  function bulk(key) {
    var button = bulkForm && bulkForm.querySelector('[data-bulk="' + key + '"]');
    if (!button) { return false; }
    button.click();
    return true;
  }

  // --- live search: assign a person without reloading ------------------------

  var q = document.getElementById("live-q");
  var results = document.getElementById("live-results");
  var status = document.getElementById("live-status");
  var searchForm = document.getElementById("search-form");
  var timer = null, seq = 0;

  function csrf() {
    var input = document.querySelector('#single-form input[name="csrf_token"]');
    return input ? input.value : "";
  }

  function search(text) {
    var mine = ++seq;
    var url = panel.dataset.peopleUrl + "?q=" + encodeURIComponent(text.trim());
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (mine !== seq) { return; }
        results.innerHTML = "";
        if (!body.people.length) {
          var li = document.createElement("li");
          li.className = "muted";
          li.textContent = panel.dataset.msgNone;
          results.appendChild(li);
        }
        body.people.forEach(function (person) {
          var li = document.createElement("li");
          var button = document.createElement("button");
          button.type = "button";
          button.className = "linklike";
          button.textContent = person.name;
          button.dataset.person = person.id;
          button.addEventListener("click", function () { assign(person.id); });
          var info = document.createElement("span");
          info.className = "muted";
          info.textContent = " " + person.number + (person.group ? " · " + person.group : "");
          li.appendChild(button);
          li.appendChild(info);
          results.appendChild(li);
        });
      })
      .catch(function () { status.textContent = panel.dataset.msgError; });
  }

  function assign(personId) {
    var faceId = panel.dataset.face;
    var version = document.querySelector('#single-form input[name="version"]').value;
    var body = new FormData();
    body.append("csrf_token", csrf());
    body.append("version", version);
    var url = panel.dataset.assignUrl.replace("999999999", faceId).replace("888888888", personId);
    fetch(url, { method: "POST", body: body, credentials: "same-origin",
                 headers: { "Accept": "application/json", "X-CSRFToken": csrf() } })
      .then(function (r) { return r.json(); })
      .then(function (reply) {
        status.textContent = reply.message || "";
        status.className = reply.ok ? "hint ok" : "hint error";
        if (!reply.ok) { return; }
        setVersion(reply.version);
        var box = document.querySelector('.facebox[data-face="' + faceId + '"]');
        if (box) { box.className = "facebox " + reply.css; }
        var old = document.getElementById("face-" + faceId);
        var holder = document.createElement("ol");
        holder.innerHTML = reply.tile.trim();
        var fresh = holder.firstElementChild;
        old.replaceWith(fresh);
        cards[cards.indexOf(old)] = fresh;
        bind(fresh);
        results.innerHTML = "";
        q.value = "";
        select(fresh, true);
        countSelected();
      })
      .catch(function () { status.textContent = panel.dataset.msgError; status.className = "hint error"; });
  }

  if (q && results && panel) {
    q.addEventListener("input", function () {
      clearTimeout(timer);
      if (!q.value.trim()) { results.innerHTML = ""; return; }
      timer = setTimeout(function () { search(q.value); }, 150);
    });
    q.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") {
        // Enter picks the first result when there is exactly one choice to make.
        var first = results.querySelector("button[data-person]");
        if (first) { ev.preventDefault(); first.click(); }
      }
    });
    if (searchForm) {
      searchForm.addEventListener("submit", function (ev) { ev.preventDefault(); search(q.value); });
    }
  }

  // --- keyboard ---------------------------------------------------------------

  function go(id) {
    var link = document.getElementById(id);
    if (link) { location.href = link.href; }
  }

  function act(key) {
    if (!current) { return false; }
    var el = current.querySelector('[data-key="' + key + '"]');
    if (!el) { return false; }
    el.click();
    return true;
  }

  function openPanel(which) {
    if (!panel) { return act(which); }
    if (which === "4") {
      var details = document.getElementById("external");
      if (!details) { return false; }
      details.open = true;
      details.querySelector("textarea").focus();
    } else if (q) {
      q.focus();
      q.select();
    }
    return true;
  }

  // Columns of the grid as laid out now, for up/down.
  function columns() {
    if (!grid || cards.length < 2) { return 1; }
    var top = cards[0].offsetTop, n = 0;
    while (n < cards.length && cards[n].offsetTop === top) { n++; }
    return Math.max(1, n);
  }

  function move(step) {
    var i = cards.indexOf(current);
    var next = Math.max(0, Math.min(cards.length - 1, i + step));
    select(cards[next], true);
  }

  function nextToCheck() {
    var i = cards.indexOf(current);
    for (var k = 1; k <= cards.length; k++) {
      var c = cards[(i + k) % cards.length];
      if (c.classList.contains("attention")) { select(c, true); return; }
    }
    select(cards[(i + 1) % cards.length], true);
  }

  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target.tagName || "").toLowerCase();
    var choice = tag === "input" && (ev.target.type === "checkbox" || ev.target.type === "radio");
    if (choice && ev.key === " ") { return; }  // the checkbox toggles itself
    var typing = (tag === "input" && !choice) || tag === "textarea" || tag === "select";
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) {
      if (ev.key === "Escape" && ev.target.blur) { ev.target.blur(); if (current) { current.focus(); } }
      return;
    }
    var handled = true;
    switch (ev.key) {
      case "j": go("nav-next"); break;
      case "k": go("nav-prev"); break;
      case "ArrowRight": move(1); break;
      case "ArrowLeft": move(-1); break;
      case "ArrowDown": move(grid ? columns() : 1); break;
      case "ArrowUp": move(grid ? -columns() : -1); break;
      case "f": nextToCheck(); break;
      case " ": case "x": toggle(current); break;
      case "a": selectUnidentified(); break;
      case "Escape": clearSelection(); break;
      case "c": case "b": case "n": handled = bulk(ev.key); break;
      case "d": toggleDraw(); break;
      case "Enter": {
        var open = current && current.querySelector("[data-open]");
        if (open) { open.click(); } else { handled = false; }
        break;
      }
      case "4": case "5": case "/": handled = openPanel(ev.key === "4" ? "4" : "5"); break;
      case "1": case "2": case "3": case "u":
        handled = act(ev.key); break;
      default: handled = false;
    }
    if (handled) { ev.preventDefault(); }
  });

  // --- drawing a box for a missed face -----------------------------------------
  // Drag on the photo; coordinates are converted to the original's pixels
  // and put in the (visible) form.
  var stage = document.getElementById("stage");
  var img = document.getElementById("photo-img");
  var drawbox = document.getElementById("drawbox");
  var form = document.getElementById("draw-form");
  var drawToggle = document.getElementById("draw-toggle");
  var drawing = false, start = null;

  function toggleDraw() {
    if (!stage) { return; }
    drawing = !drawing;
    stage.classList.toggle("drawing", drawing);
  }
  if (drawToggle) { drawToggle.addEventListener("click", toggleDraw); }

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
    var moveBox = function (ev) { if (!drawing || !start) { return; } ev.preventDefault(); update(start, point(ev)); };
    var up = function () { start = null; };
    stage.addEventListener("mousedown", down);
    stage.addEventListener("mousemove", moveBox);
    window.addEventListener("mouseup", up);
    stage.addEventListener("touchstart", down, { passive: false });
    stage.addEventListener("touchmove", moveBox, { passive: false });
    stage.addEventListener("touchend", up);
  }

  if (cards.length) { initialSelection(); }
})();
