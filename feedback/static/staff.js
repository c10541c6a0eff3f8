// Staff pages: behaviour kept out of the templates, whose CSP (script-src 'self') blocks inline
// handlers. A button with data-print prints the page (the scorecard).
document.addEventListener("click", function (event) {
  if (event.target.closest && event.target.closest("[data-print]")) {
    window.print();
  }
});
