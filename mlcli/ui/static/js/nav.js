// Moving between pages without reloading: the router registers how to draw a URL.

let renderer = () => {};

export function setRenderer(render) {
  renderer = render;
}

/** Go to a URL of the dashboard (a new history entry) and draw it. */
export function navigate(url) {
  history.pushState(null, "", url);
  window.scrollTo(0, 0);
  renderer();
}
