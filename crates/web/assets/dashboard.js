// Dashboard charts (ECharts), each drawn from the table beside it so chart, table and export
// agree. Loaded as a file: the CSP allows no inline script.
(function () {
  "use strict";
  var PALETTE = ["#b71c1c", "#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f"];

  function dark() { return document.body.classList.contains("screen"); }

  function columns(table) {
    return Array.prototype.map.call(table.querySelectorAll("thead th[data-col]"), function (th) {
      return { index: parseInt(th.getAttribute("data-col"), 10), title: th.textContent.trim() };
    });
  }

  function rows(table) {
    return Array.prototype.map.call(table.querySelectorAll("tbody tr"), function (tr) {
      var cells = tr.children;
      return {
        name: cells[0] ? cells[0].textContent.trim() : "",
        href: tr.getAttribute("data-href"),
        value: function (i) {
          var v = cells[i] && cells[i].getAttribute("data-value");
          return v === null || v === "" || v === undefined ? null : parseFloat(v);
        }
      };
    });
  }

  function init(el) {
    if (!window.echarts) { return null; }
    var old = window.echarts.getInstanceByDom(el);
    if (old) { old.dispose(); }
    return window.echarts.init(el, dark() ? "dark" : null, { renderer: "canvas" });
  }

  function barChart(holder, table) {
    var cols = columns(table);
    if (!cols.length) { return; }
    var data = rows(table);
    var select = holder.previousElementSibling;
    if (!select || !select.classList.contains("series-select")) {
      select = document.createElement("select");
      select.className = "series-select";
      select.setAttribute("aria-label", "图表显示的指标");
      cols.forEach(function (c) {
        var o = document.createElement("option");
        o.value = String(c.index);
        o.textContent = c.title;
        select.appendChild(o);
      });
      // Default: the finest grid level counted, the last grid column before the metrics.
      var grids = cols.filter(function (c) { return /网格|社区|街道|区/.test(c.title); });
      if (grids.length) { select.value = String(grids[grids.length - 1].index); }
      holder.parentNode.insertBefore(select, holder);
    }
    var chart = init(holder);
    if (!chart) { return; }
    function draw() {
      var i = parseInt(select.value, 10);
      var title = select.options[select.selectedIndex].textContent;
      chart.setOption({
        color: PALETTE,
        backgroundColor: "transparent",
        tooltip: { trigger: "axis" },
        grid: { left: 48, right: 16, top: 24, bottom: 72 },
        xAxis: { type: "category", data: data.map(function (r) { return r.name; }), axisLabel: { rotate: data.length > 8 ? 40 : 0, interval: 0 } },
        yAxis: { type: "value" },
        series: [{ name: title, type: "bar", data: data.map(function (r) { return r.value(i); }) }]
      }, true);
    }
    select.onchange = draw;
    draw();
    chart.off("click");
    chart.on("click", function (p) {
      var r = data[p.dataIndex];
      if (r && r.href) { window.location.href = r.href; }
    });
  }

  function lineChart(holder, table) {
    var cols = columns(table);
    var data = rows(table);
    var chart = init(holder);
    if (!chart) { return; }
    chart.setOption({
      color: PALETTE,
      backgroundColor: "transparent",
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 48, right: 16, top: 40, bottom: 32 },
      xAxis: { type: "category", data: data.map(function (r) { return r.name; }) },
      yAxis: { type: "value" },
      series: cols.map(function (c) {
        return { name: c.title, type: "line", data: data.map(function (r) { return r.value(c.index); }) };
      })
    });
  }

  function gaugeChart(fig) {
    var holder = fig.querySelector(".gauge-chart");
    var v = fig.getAttribute("data-value");
    var t = fig.getAttribute("data-target");
    var chart = holder && init(holder);
    if (!chart) { return; }
    var value = v === "" ? 0 : parseFloat(v);
    var target = t === "" ? null : parseFloat(t);
    // The band below the target is red, the rest green: the needle shows which side it is on.
    var bands = target === null ? [[1, "#1565c0"]] : [[target / 100, "#c62828"], [1, "#2e7d32"]];
    chart.setOption({
      backgroundColor: "transparent",
      series: [{
        type: "gauge", min: 0, max: 100, radius: "95%",
        axisLine: { lineStyle: { width: 12, color: bands } },
        axisLabel: { distance: 16, fontSize: 10 },
        splitLine: { length: 10 },
        pointer: { width: 4 },
        detail: { formatter: v === "" ? "—" : "{value}%", fontSize: 16, offsetCenter: [0, "70%"] },
        data: [{ value: value }]
      }]
    });
  }

  function draw(root) {
    Array.prototype.forEach.call(root.querySelectorAll(".chart[data-chart]"), function (holder) {
      var table = document.getElementById(holder.getAttribute("data-table"));
      if (!table) { return; }
      if (holder.getAttribute("data-chart") === "bar") { barChart(holder, table); }
      if (holder.getAttribute("data-chart") === "line") { lineChart(holder, table); }
    });
    Array.prototype.forEach.call(root.querySelectorAll("figure.gauge"), gaugeChart);
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  // Sections loaded or refreshed by htmx (trends, the big screen's panel) are drawn again.
  document.addEventListener("htmx:afterSettle", function (e) { draw(e.target || document); });
  window.addEventListener("resize", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".chart"), function (el) {
      var c = window.echarts && window.echarts.getInstanceByDom(el);
      if (c) { c.resize(); }
    });
  });
})();
