importScripts("{{GATEWAY}}/sw/pushgate-sw.js");
