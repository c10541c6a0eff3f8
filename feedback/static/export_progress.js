// Export progress page: asks the job's JSON status every second and moves the bar; when the job
// ends it reloads the page, which then shows the download link or the error. Without JavaScript
// the page reloads itself instead (a <noscript> meta refresh). No inline script: see the CSP.
(function () {
  "use strict";
  var box = document.querySelector("[data-status-url]");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector("progress");
  var done = box.querySelector("[data-rows-done]");
  var total = box.querySelector("[data-rows-total]");
  var label = box.querySelector("[data-job-status]");
  var lang = document.documentElement.lang || "vi";

  function number(n) {
    return n === null || n === undefined ? "\u2013" : Number(n).toLocaleString(lang);
  }

  function show(state) {
    if (state.rows_total) {
      bar.max = state.rows_total;
      bar.value = state.rows_done;
    }
    done.textContent = number(state.rows_done);
    total.textContent = number(state.rows_total);
    if (state.status === "running" && label) {
      label.textContent = box.getAttribute("data-label-running");
    }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (response.status === 401) {  // the session ended: the page itself leads to the log-in
          window.location.reload();
          return new Promise(function () {});
        }
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (state) {
        show(state);
        if (state.status === "done" || state.status === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000);  // the network or a server restart: try again, more slowly
      });
  }

  window.setTimeout(poll, 1000);
}());
