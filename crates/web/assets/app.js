// Gongjian console behaviour. Loaded as a file: the CSP allows no inline script.
(function () {
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  // Every htmx request carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrf();
  });
  // Forms marked data-confirm ask before submitting (archive and similar).
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  });
  // Selects marked data-navigate jump to the chosen address (the scope switcher).
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("select[data-navigate]") && e.target.value) {
      window.location.href = e.target.value;
    }
  });
  // Close the search suggestions on Escape or a click elsewhere.
  document.addEventListener("click", function (e) {
    var box = document.getElementById("search-results");
    if (box && !box.contains(e.target)) { box.innerHTML = ""; }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { var box = document.getElementById("search-results"); if (box) { box.innerHTML = ""; } }
  });
})();

// Print buttons (letters, posters): inline handlers are not allowed by the CSP.
document.addEventListener('click', (e) => {
  if (e.target instanceof Element && e.target.closest('[data-print]')) window.print();
});
