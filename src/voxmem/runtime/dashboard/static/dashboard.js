// Upload with progress: one request per file, so any number and total size of files
// fits under the runtime's per-request limits; the server extracts text, splits it and
// indexes it in batches under the per-call cap. Without this script the form still
// works as a plain multipart POST.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const results = document.getElementById("upload-results");

  function send(file, onProgress) {
    return new Promise((resolve) => {
      const body = new FormData();
      body.append("files", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
      xhr.addEventListener("load", () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        if (xhr.status === 200 && data && data.files) {
          resolve(data.files[0]);
        } else {
          const message = data && data.error ? data.error.message : "HTTP " + xhr.status;
          resolve({ file: file.name, status: "failed", error: message });
        }
      });
      xhr.addEventListener("error", () => resolve({ file: file.name, status: "failed", error: "network error" }));
      xhr.send(body);
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = Array.from(input.files);
    if (!files.length) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    bar.hidden = false;
    results.textContent = "";
    let failed = 0;
    for (let i = 0; i < files.length; i++) {
      status.textContent = `Uploading ${files[i].name} (${i + 1} of ${files.length})…`;
      const outcome = await send(files[i], (part) => { bar.value = (i + part) / files.length; });
      bar.value = (i + 1) / files.length;
      const item = document.createElement("li");
      item.textContent = `${outcome.file}: ${outcome.status}` + (outcome.error ? ` — ${outcome.error}` : "");
      results.appendChild(item);
      if (outcome.status === "failed") failed++;
    }
    status.textContent = `Done: ${files.length - failed} of ${files.length} files indexed.`;
    status.dataset.done = "true";
    button.disabled = false;
    if (!failed) {
      const reload = document.createElement("a");
      reload.href = window.location.pathname + window.location.search;
      reload.textContent = "Refresh the document list";
      reload.id = "upload-refresh";
      status.append(" ", reload);
    }
  });
});
