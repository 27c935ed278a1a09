// Draws every chart whose ECharts option the server put in data-option (no inline script).
function drawCharts() {
  for (const el of document.querySelectorAll("[data-option]")) {
    if (el.dataset.drawn) continue;
    const option = JSON.parse(el.dataset.option);
    for (const s of option.series) s.data = s.data.map(Number); // exact strings, drawn as numbers
    echarts.init(el).setOption(option);
    el.dataset.drawn = "1";
  }
}
document.addEventListener("DOMContentLoaded", drawCharts);
document.addEventListener("htmx:afterSettle", drawCharts);
