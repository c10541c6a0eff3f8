// Survey page enhancements; the page works without them (relevance by CSS :has, checks on the server).
(function () {
  "use strict";
  var form = document.getElementById("survey");
  if (!form) return;
  var bar = document.getElementById("bar"), count = document.getElementById("count");
  // The form may send to another page than this one (a poster replaced since it was opened).
  var target = form.getAttribute("action") ? form.action : location.href;
  var kept = document.getElementById("kept"), text = kept.dataset, sending = false;
  var key = "pending:" + new URL(target, location.href).pathname;

  function chosen(name) {
    var out = [];
    form.querySelectorAll('[name="' + name + '"]').forEach(function (el) {
      if ((el.type === "radio" || el.type === "checkbox") && el.checked && !el.disabled) out.push(el.value);
    });
    return out;
  }

  function refresh() {
    // Questions whose condition is false are hidden and disabled, so their answers are not sent.
    form.querySelectorAll("[data-rel-q]").forEach(function (box) {
      var want = box.dataset.relIn.split(" "), have = chosen(box.dataset.relQ);
      var on = have.some(function (v) { return want.indexOf(v) >= 0; });
      box.hidden = !on && !box.classList.contains("err");
      box.querySelectorAll("input,textarea").forEach(function (el) { el.disabled = box.hidden; });
    });
    var shown = 0, done = 0;
    form.querySelectorAll("[data-main]").forEach(function (box) {
      if (box.hidden) return;
      shown++;
      var filled = Array.prototype.some.call(box.querySelectorAll("input,textarea"), function (el) {
        return (el.type === "radio" || el.type === "checkbox") ? el.checked : el.value.trim() !== "";
      });
      if (filled) done++;
    });
    bar.style.width = (shown ? Math.round(100 * done / shown) : 0) + "%";
    count.textContent = done + "/" + shown + " " + text.answered;
  }

  function store(value) {
    try { if (value) localStorage.setItem(key, value); else localStorage.removeItem(key); } catch (e) { /* private mode */ }
  }

  function restore(saved) {
    // Put kept answers (and the same signed response id) back into the form.
    var data = new URLSearchParams(saved);
    form.querySelectorAll("input,textarea").forEach(function (el) {
      if (el.type === "radio" || el.type === "checkbox") el.checked = data.getAll(el.name).indexOf(el.value) >= 0;
      else if (data.has(el.name)) el.value = data.get(el.name);
    });
    refresh();
  }

  function showKept(why) {
    sending = false;
    kept.querySelector("p").textContent = why === "refused" ? text.refused : text.offline;
    kept.hidden = false;
    kept.scrollIntoView({ block: "center" });
    var button = form.querySelector('button[name="send"]');
    button.disabled = false;
    button.textContent = text.send;
  }

  function send() {
    if (sending) return;
    sending = true;
    var body = new URLSearchParams(new FormData(form));
    body.set("send", "1");
    store(body.toString());
    var button = form.querySelector('button[name="send"]');
    button.disabled = true;
    button.textContent = text.sending;
    fetch(target, { method: "POST", body: body, credentials: "same-origin" }).then(function (r) {
      if (r.redirected || r.status === 200 && r.url.indexOf("/thanks/") >= 0) {
        store(null);
        location.replace(r.url);
      } else if (r.status >= 500 || r.status === 429) {
        showKept("offline");
      } else {
        return r.text().then(function (html) {
          // Only a page that shows the answers again (with the server's messages, or in the
          // commune's current survey) takes this one's place; otherwise nothing is erased.
          if (html.indexOf('<form id="survey"') < 0) return showKept("refused");
          store(null);
          document.open(); document.write(html); document.close();
        });
      }
    }).catch(function () { showKept("offline"); });
  }

  form.addEventListener("change", refresh);
  form.addEventListener("input", refresh);
  form.addEventListener("submit", function (ev) {
    var button = ev.submitter;
    if (!button || button.name !== "send" || !window.fetch || !window.URLSearchParams) return;
    ev.preventDefault();
    send();
  });
  document.getElementById("resend").addEventListener("click", send);
  // Back or Forward may show this page from the back/forward cache as it was when it was left,
  // mid-send; the signed response id in it is the same, so sending again stores it once.
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted || !sending) return;
    sending = false;
    var button = form.querySelector('button[name="send"]');
    button.disabled = false;
    button.textContent = text.send;
  });
  window.addEventListener("online", function () { if (!kept.hidden) send(); });

  var saved = null;
  try { saved = localStorage.getItem(key); } catch (e) { /* private mode */ }
  if (saved) { restore(saved); kept.hidden = false; }
  refresh();
  // A page sent back with errors (or moved answers) replaces this one where it was scrolled to:
  // bring its summary to the top and give it focus, so that it is seen and read out first.
  var summary = document.getElementById("errors") || document.getElementById("moved");
  if (summary && !saved) {
    window.scrollTo(0, 0);
    summary.focus({ preventScroll: true });
    summary.scrollIntoView({ block: "start" });
  }
})();
