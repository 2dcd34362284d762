// tango-batch desk: drag-and-drop upload with a progress bar, a check's progress, and filtering a
// table of rows. The pages work without it (plain forms, a reload every two seconds, a GET filter).
"use strict";

function uploadWithProgress(form) {
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.setRequestHeader("X-CSRF-Token", form.elements["csrf_token"].value);
  bar.hidden = false;
  bar.value = 0;
  xhr.upload.addEventListener("progress", (e) => {
    if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
  });
  xhr.addEventListener("load", () => {
    if (xhr.status >= 200 && xhr.status < 300) {
      window.location.assign(xhr.responseURL);
      return;
    }
    const page = new DOMParser().parseFromString(xhr.responseText, "text/html");
    const message = page.getElementById("error-message");
    status.textContent = message ? message.textContent : "The upload was refused (" + xhr.status + ").";
    status.className = "error";
    bar.hidden = true;
  });
  xhr.addEventListener("error", () => {
    status.textContent = "The upload did not reach the server: try again.";
    status.className = "error";
    bar.hidden = true;
  });
  status.textContent = "Uploading…";
  status.className = "";
  xhr.send(new FormData(form));
}

function setUpUpload() {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("upload-input");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (input.files.length) uploadWithProgress(form);
  });
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (e) => {
    e.preventDefault();
    zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (!e.dataTransfer.files.length) return;
    input.files = e.dataTransfer.files;
    uploadWithProgress(form);
  });
}

function followCheck() {
  const box = document.getElementById("check-progress");
  if (!box || !["queued", "running"].includes(box.dataset.state)) return;
  const bar = document.getElementById("check-bar");
  const phase = document.getElementById("check-phase");
  const poll = () => fetch(box.dataset.poll, { credentials: "same-origin", cache: "no-store" })
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then((p) => {
      box.dataset.state = p.state;
      if (p.state === "done") { window.location.assign(p.url); return; }
      if (p.state === "failed") { window.location.reload(); return; }
      if (p.total) { bar.max = p.total; bar.value = p.done; } else { bar.removeAttribute("value"); }
      phase.textContent = (p.phase || p.state) + (p.total ? " (" + p.done + " of " + p.total + " rows)" : "");
      setTimeout(poll, 700);
    })
    .catch(() => setTimeout(poll, 2000));
  setTimeout(poll, 300);
}

function filterTables() {
  document.querySelectorAll("input[data-table]").forEach((input) => {
    const table = document.getElementById(input.dataset.table);
    if (!table) return;
    input.addEventListener("input", () => {
      const words = input.value.toLowerCase().trim();
      table.querySelectorAll("tbody tr").forEach((row) => {
        row.hidden = words !== "" && !row.textContent.toLowerCase().includes(words);
      });
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpUpload();
  followCheck();
  filterTables();
});
