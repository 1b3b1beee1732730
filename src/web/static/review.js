// Keyboard shortcuts for /review (the page works without them): j/k move a highlight
// between stories, r/i/c submit the highlighted story's form with that verdict.
"use strict";
(function () {
  var stories = Array.prototype.slice.call(document.querySelectorAll("article.story"));
  if (stories.length === 0) {
    return;
  }
  var current = 0;
  // After a judgment the server redirects to #m<id> of the next story: start there.
  if (location.hash) {
    for (var n = 0; n < stories.length; n++) {
      if ("#" + stories[n].id === location.hash) {
        current = n;
      }
    }
  }
  function show(index) {
    stories[current].classList.remove("current");
    current = Math.max(0, Math.min(stories.length - 1, index));
    stories[current].classList.add("current");
    stories[current].scrollIntoView({ block: "nearest" });
  }
  function judge(verdict) {
    var button = stories[current].querySelector('button[name="verdict"][value="' + verdict + '"]');
    if (button) {
      // requestSubmit sends the button's name=value, as a click would.
      button.form.requestSubmit(button);
    }
  }
  show(current);
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var tag = target && target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) {
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var verdicts = { r: "relevant", i: "irrelevant", c: "crisis" };
    if (event.key === "j") {
      show(current + 1);
    } else if (event.key === "k") {
      show(current - 1);
    } else if (verdicts[event.key]) {
      judge(verdicts[event.key]);
    } else {
      return;
    }
    event.preventDefault();
  });
})();
