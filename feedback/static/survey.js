// Survey page enhancements; the page works without them (relevance by CSS :has, checks on the server).
(function () {
  "use strict";
  var form = document.getElementById("survey");
  if (!form) return;
  var total = +form.dataset.total, bar = document.getElementById("bar"), count = document.getElementById("count");

  function chosen(name) {
    var out = [];
    form.querySelectorAll('[name="' + name + '"]').forEach(function (el) {
      if ((el.type === "radio" || el.type === "checkbox") ? el.checked && !el.disabled : false) out.push(el.value);
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
    count.textContent = done + "/" + shown + " " + form.dataset.answered;
  }

  form.addEventListener("change", refresh);
  form.addEventListener("input", refresh);
  form.addEventListener("submit", function (ev) {
    // One tap sends once; the server also ignores repeats of the same response id.
    var button = ev.submitter;
    if (!button || button.name !== "send") return;
    if (form.dataset.sent) { ev.preventDefault(); return; }
    form.dataset.sent = "1";
    setTimeout(function () { button.disabled = true; button.textContent = form.dataset.sending; }, 0);
  });
  refresh();
})();
