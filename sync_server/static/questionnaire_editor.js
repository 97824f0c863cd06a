/* The questionnaire form editor (templates/questionnaire_editor.html): show each question's levels or
   options as its kind asks. Only a view: hidden rows are still sent, and the server ignores the parts a
   kind does not use, so the page works the same without this file. */
(function () {
  "use strict";
  function sync(question) {
    var kind = question.querySelector("select.qe-kind");
    if (!kind) { return; }
    question.querySelectorAll(".kind-part").forEach(function (part) {
      part.hidden = part.getAttribute("data-kinds").split(" ").indexOf(kind.value) === -1;
    });
  }
  document.querySelectorAll("fieldset.qe-q").forEach(function (question) {
    sync(question);
    question.addEventListener("change", function (event) {
      if (event.target.matches("select.qe-kind")) { sync(question); }
    });
  });
})();
