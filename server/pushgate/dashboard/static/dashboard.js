// pushgate dashboard 0.1: progressive enhancement only (every page works without it).
// Shows the "Copy" buttons, which copy the text of the element their data-copy names.
"use strict";

async function copyFrom(button) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select the text and copy it";
  }
}

function showCopyButtons() {
  if (!navigator.clipboard) return;
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", () => copyFrom(button));
  }
}

document.addEventListener("DOMContentLoaded", showCopyButtons);
