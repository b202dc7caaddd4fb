// The answer-highlighting page. Served with a Content-Security-Policy that runs only this file.
// The passage, answers and errors are only ever inserted as text (textContent / createTextNode), never as HTML:
// whatever they contain (<script>, <img onerror>) is shown literally and runs nothing.
// Offsets: JavaScript strings index UTF-16 code units, so the page slices with the API's *_utf16 offsets;
// the code-point offsets (start/end) are for Python and most other clients.
const $ = (id) => document.getElementById(id);
let shownContext = "";

function highlight(start, end) {
  const box = $("passage");
  box.replaceChildren();
  if (start === null || start === undefined) { box.textContent = shownContext; return; }
  const mark = document.createElement("mark");
  mark.textContent = shownContext.slice(start, end);
  box.append(document.createTextNode(shownContext.slice(0, start)), mark, document.createTextNode(shownContext.slice(end)));
  mark.scrollIntoView({ block: "center" });
}

function setStatus(cls, text) {
  $("status").className = cls;
  $("status").textContent = text;
}

function render(res) {
  $("result").hidden = false;
  // p_correct: the calibrated chance that this answer is right; null for a model that was not calibrated
  const chance = res.p_correct == null ? "" : ` — ${Math.round(res.p_correct * 100)}% likely right`;
  setStatus(res.no_answer ? "noanswer" : "", (res.no_answer
    ? `No answer in this passage (no-answer score ${res.no_answer_score.toFixed(2)}; threshold ${res.threshold.toFixed(2)})`
    : `Answer: "${res.answer}" (score ${res.score.toFixed(2)})`) + chance);
  highlight(res.no_answer ? null : res.start_utf16, res.end_utf16);
  const list = $("alternatives");
  list.replaceChildren();
  res.alternatives.forEach((alt, i) => {
    const li = document.createElement("li");
    li.textContent = `${alt.text} `;
    const s = document.createElement("span");
    s.className = "score";
    s.textContent = `score ${alt.score.toFixed(2)}, p=${alt.probability.toFixed(2)}`;
    li.append(s);
    if (!res.no_answer && i === 0) li.classList.add("active");
    li.addEventListener("click", () => {
      list.querySelectorAll("li").forEach((x) => x.classList.remove("active"));
      li.classList.add("active");
      setStatus("", `Candidate ${i + 1}: "${alt.text}" (score ${alt.score.toFixed(2)})`);
      highlight(alt.start_utf16, alt.end_utf16);
    });
    list.append(li);
  });
}

$("ask").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const context = $("context").value, question = $("question").value;
  $("submit").disabled = true;
  try {
    // No top_k: the server's default (the same as `ask` and the Python API) decides how many candidates come back.
    const r = await fetch("/v1/answer", { method: "POST", headers: { "Content-Type": "application/json" },
                                         body: JSON.stringify({ question, context }) });
    let body;
    try { body = await r.json(); } catch { body = {}; }
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    shownContext = context;
    render(body);
  } catch (e) {
    $("result").hidden = false;
    setStatus("error", `Error: ${e.message}`);
    $("passage").replaceChildren();
    $("alternatives").replaceChildren();
  } finally {
    $("submit").disabled = false;
  }
});
