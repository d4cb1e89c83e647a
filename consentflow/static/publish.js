// Polls the status of a background publication; reloads the page once it is done.
(function () {
  "use strict";
  document.querySelectorAll(".publish-progress[data-status-url]").forEach(function (box) {
    if (box.dataset.polling) { return; }
    box.dataset.polling = "1";
    var bar = box.querySelector("progress");
    var text = box.querySelector(".publish-message");
    function poll() {
      fetch(box.dataset.statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (s) {
          bar.value = s.progress;
          text.textContent = s.message;
          box.dataset.state = s.state;
          if (s.done) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    poll();
  });
})();
