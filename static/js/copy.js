// "Copy" buttons: data-copy-target names the input whose value goes to the clipboard.
document.querySelectorAll("[data-copy-target]").forEach((button) => {
  button.addEventListener("click", async () => {
    const input = document.getElementById(button.dataset.copyTarget);
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
    } catch {
      document.execCommand("copy");  // older browsers, or a page served without HTTPS
    }
    button.textContent = "Copied";
  });
});
