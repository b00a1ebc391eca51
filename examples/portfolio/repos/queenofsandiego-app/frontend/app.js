// Booking form and crew sign-in. The API is the same origin (/api/* on CloudFront).
const API = "/api";

async function postJSON(path, body) {
  const res = await fetch(API + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

document.getElementById("booking-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const status = document.getElementById("booking-status");
  status.textContent = "Saving your request…";
  try {
    const { checkout_url } = await postJSON("/bookings", formData(e.target));
    window.location.href = checkout_url;
  } catch (err) {
    status.textContent = "Something went wrong: " + err.message;
  }
});

document.getElementById("magic-link-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const status = document.getElementById("magic-link-status");
  try {
    await postJSON("/auth/magic-link", formData(e.target));
    status.textContent = "Check your email for a sign-in link.";
  } catch (err) {
    status.textContent = "Could not send the link: " + err.message;
  }
});

// The sign-in link lands on /app/?token=...; keep it for API calls.
const token = new URLSearchParams(window.location.search).get("token");
if (token) {
  localStorage.setItem("qosd_token", token);
  history.replaceState(null, "", window.location.pathname);
}
