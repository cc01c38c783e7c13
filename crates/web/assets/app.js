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
  // Upload forms (data-upload): the upload's progress in its <progress>, then a note that the
  // server is checking the rows; a refused upload (422) still shows its page with the reason.
  document.addEventListener("htmx:xhr:progress", function (e) {
    var form = e.target.closest && e.target.closest("form[data-upload]");
    // htmx reports the response's download under the same name: only the upload counts.
    if (!form || form.dataset.uploaded || !e.detail.lengthComputable || !e.detail.total) { return; }
    if (e.detail.loaded >= e.detail.total) { form.dataset.uploaded = "1"; }
    var bar = form.querySelector("progress");
    var stage = form.querySelector("[id$='-stage']");
    if (bar) { bar.max = e.detail.total; bar.value = e.detail.loaded; }
    if (stage) {
      stage.textContent = e.detail.loaded < e.detail.total
        ? "正在上传 " + Math.floor(100 * e.detail.loaded / e.detail.total) + "%"
        : "上传完成，正在逐行校验…";
    }
  });
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.target.closest && e.target.closest("form[data-upload]");
    if (form) { delete form.dataset.uploaded; }
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    var form = e.detail.elt && e.detail.elt.closest && e.detail.elt.closest("form[data-upload]");
    if (form && e.detail.xhr.status === 422) { e.detail.shouldSwap = true; e.detail.isError = false; }
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
