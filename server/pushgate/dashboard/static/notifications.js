// pushgate dashboard: a notification's page reloads itself every 10 s while it sends
// (the template loads this file only then), unless the reader is in a form or the tab hidden.
"use strict";
(function () {
  const PERIOD_MS = 10000;
  setInterval(function () {
    const busy = document.activeElement && document.activeElement.closest("form");
    if (!document.hidden && !busy) {
      window.location.reload();
    }
  }, PERIOD_MS);
})();
