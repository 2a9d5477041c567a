// @ts-check
// Typed access to the page's elements: each getter checks the element is
// there and of the kind the code expects, so a renamed id fails loudly.

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} kind
 * @returns {T}
 */
export function byId(id, kind) {
  const element = document.getElementById(id);
  if (!(element instanceof kind)) throw new Error(`#${id} is missing or not a ${kind.name}`);
  return element;
}

/** @param {string} id */
export const element = (id) => byId(id, HTMLElement);

/**
 * The first element matching `selector` inside `root`.
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {HTMLElement}
 */
export function within(root, selector) {
  const found = root.querySelector(selector);
  if (!(found instanceof HTMLElement)) throw new Error(`${selector} is missing`);
  return found;
}

/** Restarts an element's flash animation. @param {string} id */
export function flash(id) {
  const target = element(id);
  target.classList.remove('flash');
  void target.offsetWidth; // restart the animation
  target.classList.add('flash');
}

// Instances get hues a golden angle apart (by their id's value), so two
// instances in a row rarely look alike.
/** @param {string} text */
export function hueOf(text) {
  let hash = 0;
  for (const char of String(text)) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) >>> 0;
  return Math.round((hash * 137.508) % 360);
}

/**
 * Asks before something that cannot be undone, in the page's <dialog id="confirm">:
 * true for the action's button; false for Cancel, Escape or a click outside.
 * Cancel has the focus, so Enter does nothing harmful.
 * @param {string} question
 * @param {string} action the confirming button's label, e.g. "Delete"
 * @returns {Promise<boolean>}
 */
export function confirmAction(question, action) {
  const dialog = byId('confirm', HTMLDialogElement);
  within(dialog, '.question').textContent = question;
  const yes = byId('confirm-yes', HTMLButtonElement);
  const no = byId('confirm-no', HTMLButtonElement);
  yes.textContent = action;
  return new Promise((resolve) => {
    /** @param {boolean} answer */
    const answer = (answer) => {
      yes.removeEventListener('click', onYes);
      no.removeEventListener('click', onNo);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    const onYes = () => answer(true);
    const onNo = () => answer(false);
    const onClose = () => answer(false); // Escape
    yes.addEventListener('click', onYes);
    no.addEventListener('click', onNo);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    no.focus();
  });
}
