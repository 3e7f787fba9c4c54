/**
 * The training text: the bundled Tiny Shakespeare (fetched on first use) or the user's own
 * (pasted, or a dropped or chosen file), the line that describes it, and the held-out passage
 * the hidden-state view reads.
 */
import shakespeareUrl from "../../data/tinyshakespeare.txt?url";
import { decodeText } from "bptt";
import { ui } from "./elements.ts";
import { clearErrors, showFieldError } from "./form.ts";
import { codePoints, VAL_FRACTION } from "./settings.ts";

/** Characters of the passage over which the hidden state is shown. */
const PASSAGE_CHARS = 600;
/** The textarea shows this much of a loaded file (all of it is used). */
const SHOWN_CHARS = 200_000;

let bundledText: string | undefined;
let customText = "";

/**
 * The text to train on, fetching the bundled one the first time it is needed.
 * @returns the text (possibly empty, for the user's own)
 */
export async function currentText(): Promise<string> {
  if (textSource() === "custom") return customText;
  if (bundledText === undefined) {
    ui.textInfo.textContent = "loading the bundled text…";
    const response = await fetch(shakespeareUrl);
    bundledText = decodeText(new Uint8Array(await response.arrayBuffer()), "the bundled tinyshakespeare.txt");
    showTextInfo();
  }
  return bundledText;
}

/** Show the textarea and file input for the user's own text, or hide them, as the radio buttons say. */
export function showTextSource(): void {
  const custom = textSource() === "custom";
  ui.customText.hidden = !custom;
  ui.textFile.hidden = !custom;
  showTextInfo();
}

/**
 * Take the textarea's text as the user's own.
 * @param text what it holds
 */
export function setCustomText(text: string): void {
  customText = text;
  showTextInfo();
}

/**
 * Take a file as the user's own text (decoded as the CLI does; a message at the text field if it is not text).
 * @param file a dropped or chosen file
 */
export async function readTextFile(file: File): Promise<void> {
  clearErrors();
  try {
    customText = decodeText(new Uint8Array(await file.arrayBuffer()), file.name);
    ui.customText.value = customText.length > SHOWN_CHARS ? `${customText.slice(0, SHOWN_CHARS)}\n… (${file.name}: shown in part, used whole)` : customText;
    showTextInfo();
  } catch (e) {
    showFieldError("text", e instanceof Error ? e.message : String(e));
  }
}

/**
 * Lock or unlock the choice of text (it cannot change while training).
 * @param locked whether training runs
 */
export function lockText(locked: boolean): void {
  for (const r of ui.textSources) r.disabled = locked;
  ui.customText.disabled = locked;
}

/**
 * A passage of held-out text, for the hidden-state view: from the first paragraph break of the
 * validation part of the text chosen.
 * @returns the passage, or undefined while there is no text
 */
export function heldOutPassage(): string | undefined {
  const text = textSource() === "custom" ? customText : bundledText;
  if (text === undefined || text.length === 0) return undefined;
  const valStart = Math.floor(text.length * (1 - VAL_FRACTION));
  const br = text.indexOf("\n\n", valStart);
  const start = br >= 0 && br < valStart + 2000 ? br + 2 : valStart;
  let s = text.slice(start, start + PASSAGE_CHARS);
  const end = s.lastIndexOf("\n");
  if (end > PASSAGE_CHARS / 2) s = s.slice(0, end + 1);
  return s.length > 0 ? s : text.slice(0, PASSAGE_CHARS);
}

function textSource(): "bundled" | "custom" {
  return Array.from(ui.textSources).some((r) => r.checked && r.value === "custom") ? "custom" : "bundled";
}

function showTextInfo(): void {
  const text = textSource() === "custom" ? customText : bundledText;
  if (text === undefined) {
    ui.textInfo.textContent = "";
    return;
  }
  const n = codePoints(text);
  const symbols = new Set(text).size;
  ui.textInfo.textContent = `${n.toLocaleString("en")} characters, ${symbols} distinct; the last ${VAL_FRACTION * 100}% validates`;
}
