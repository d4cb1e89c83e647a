/* Upload page: one request per file (a failed file never stops the others;
   only failed files are sent again), per-file progress bars.
   Album page: poll the status endpoint and move the progress bar. */
(function () {
  "use strict";

  var CONCURRENCY = 3;

  function initUpload(form) {
    var input = form.querySelector("input[type=file]");
    var zone = document.getElementById("dropzone");
    var list = document.getElementById("uploads");
    var retryAll = document.getElementById("retry-all");
    var token = form.querySelector("input[name=csrf_token]").value;
    var maxBytes = parseInt(form.dataset.maxBytes, 10);
    var maxVideoBytes = parseInt(form.dataset.maxVideoBytes || form.dataset.maxBytes, 10);
    var VIDEO_NAME = /\.(mp4|m4v|mov|webm|mkv|avi)$/i;

    // Only sizes the early refusal; the server recognises videos by their content.
    function limitFor(file) {
      var video = (file.type || "").indexOf("video/") === 0 || VIDEO_NAME.test(file.name || "");
      return video ? maxVideoBytes : maxBytes;
    }
    var queue = [];
    var active = 0;
    var failed = [];

    function item(file) {
      var li = document.createElement("li");
      var name = document.createElement("span");
      name.className = "fname";
      name.textContent = file.name;
      var state = document.createElement("span");
      state.className = "state";
      var bar = document.createElement("div");
      bar.className = "progress";
      var fill = document.createElement("span");
      fill.style.width = "0%";
      bar.appendChild(fill);
      var msg = document.createElement("span");
      msg.className = "msg";
      li.append(name, state, bar, msg);
      list.appendChild(li);
      return { file: file, li: li, fill: fill, msg: msg, state: state };
    }

    function retryButton(entry) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "btn";
      b.textContent = form.dataset.msgRetry;
      b.addEventListener("click", function () { b.remove(); enqueue(entry); });
      entry.state.replaceChildren(b);
    }

    function finish(entry, cls, text) {
      entry.li.className = cls;
      entry.msg.textContent = text || "";
      active -= 1;
      if (cls === "error") { failed.push(entry); retryButton(entry); }
      retryAll.hidden = failed.length === 0;
      pump();
    }

    function send(entry) {
      active += 1;
      entry.li.className = "sending";
      entry.fill.style.width = "0%";
      entry.msg.textContent = "";
      var data = new FormData();
      data.append("csrf_token", token);
      data.append("files", entry.file, entry.file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-Requested-With", "fetch");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { entry.fill.style.width = Math.round(100 * e.loaded / e.total) + "%"; }
      });
      xhr.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
        if (xhr.status !== 200 || !body || !body.results || !body.results.length) {
          finish(entry, "error", form.dataset.msgNetwork);
          return;
        }
        var r = body.results[0];
        entry.fill.style.width = "100%";
        if (r.status === "rejected") { finish(entry, "rejected", r.message); }
        else if (r.status === "duplicate") { finish(entry, "done", form.dataset.msgDuplicate); }
        else { finish(entry, "done", r.message || form.dataset.msgDone); }
      });
      xhr.addEventListener("error", function () { finish(entry, "error", form.dataset.msgNetwork); });
      xhr.addEventListener("abort", function () { finish(entry, "error", form.dataset.msgNetwork); });
      xhr.send(data);
    }

    function pump() {
      while (active < CONCURRENCY && queue.length) { send(queue.shift()); }
    }

    function enqueue(entry) {
      failed = failed.filter(function (e) { return e !== entry; });
      retryAll.hidden = failed.length === 0;
      entry.state.replaceChildren();
      if (entry.file.size > limitFor(entry.file)) {
        entry.li.className = "rejected";
        entry.msg.textContent = form.dataset.msgTooLarge;
        return;
      }
      queue.push(entry);
      pump();
    }

    function addFiles(files) {
      Array.prototype.forEach.call(files, function (f) { enqueue(item(f)); });
    }

    input.addEventListener("change", function () { addFiles(input.files); input.value = ""; });
    ["dragenter", "dragover"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      zone.addEventListener(t, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) { addFiles(e.dataTransfer.files); });
    retryAll.addEventListener("click", function () {
      failed.slice().forEach(function (entry) { enqueue(entry); });
    });
  }

  function initStatus(section) {
    var url = section.dataset.statusUrl;
    var bar = document.getElementById("progress-bar");
    var reload = document.getElementById("p-reload");
    var wasBusy = false;
    function set(id, v) { var el = document.getElementById(id); if (el) { el.textContent = v; } }
    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) {
          if (!d) { return; }
          bar.style.width = d.percent + "%";
          set("p-done", d.done); set("p-total", d.total); set("p-failed", d.failed);
          set("p-queued", d.queued + d.processing); set("p-faces", d.faces);
          Object.keys(d.photos || {}).forEach(function (id) {
            var li = document.querySelector('.thumb[data-photo-id="' + id + '"]');
            if (!li) { return; }
            li.className = "thumb state-" + d.photos[id].state;
            var badge = li.querySelector(".badge.state");
            if (badge) { badge.textContent = d.photos[id].label; }
            var bar = li.querySelector("progress.video-progress");
            if (bar) {
              var pct = d.photos[id].video_percent;
              bar.hidden = pct === null || pct === undefined;
              if (!bar.hidden) { bar.value = pct; }
            }
          });
          var busy = d.queued + d.processing > 0;
          if (wasBusy && !busy) { reload.hidden = false; }
          wasBusy = wasBusy || busy;
          if (busy) { setTimeout(poll, 2000); }
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    poll();
  }

  var form = document.getElementById("upload-form");
  if (form) { initUpload(form); }
  var section = document.getElementById("progress");
  if (section) { initStatus(section); }
})();
