// Upload with progress (XMLHttpRequest shows upload progress; fetch does not).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = form.querySelector("input[type=file]").files[0];
    if (!file) return;
    const carrier = form.querySelector("[name=carrier]");
    const params = new URLSearchParams({ name: file.name });
    if (carrier && carrier.value) params.set("carrier", carrier.value);
    const request = new XMLHttpRequest();
    const bar = document.getElementById("progress");
    const status = document.getElementById("status");
    request.open("POST", "/api/v1/submissions?" + params.toString());
    request.setRequestHeader("X-CSRF-Token", form.querySelector("[name=csrf]").value);
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.upload.onprogress = (e) => { if (e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; } };
    request.onload = () => {
      if (request.status === 202) {
        const answer = JSON.parse(request.responseText);
        status.textContent = form.dataset.done + " " + answer.submission_id;
        window.location = "/submissions/" + answer.submission_id;
      } else {
        status.textContent = request.status + " " + request.responseText;
      }
    };
    request.send(file);
  });
});
