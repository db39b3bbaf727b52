/** How admission answers name references and speak to the person who ran `kubectl` or `kamel`. Pure. */

/** Bound on a reference quoted in a denial message (annotations are user input of up to 256 KiB). */
export const MAX_MESSAGE_REFERENCE_CHARS = 256;
/** Bound on a reference quoted in a warning, which must stay within 120 characters. */
export const MAX_WARNING_REFERENCE_CHARS = 60;

/** `container:REF` as the user wrote it, bounded for a message. */
export function displayReference(reference: string, max = MAX_MESSAGE_REFERENCE_CHARS): string {
  const bare = reference.startsWith('container:') ? reference.slice('container:'.length) : reference;
  const shown = `container:${bare}`;
  if (shown.length <= max) return shown;
  // Keep both ends: the host says where, the tag says what.
  const head = Math.ceil((max - 3) / 2);
  return `${shown.slice(0, head)}...${shown.slice(shown.length - (max - 3 - head))}`;
}

/** kubectl prints warnings and denials with no source: every message says who speaks. */
export function withPrefix(message: string): string {
  return message.startsWith('camel-oci') ? message : `camel-oci: ${message}`;
}

/** Drops a leading `container:REF: ` from an error message that already names the reference. */
export function withoutSubject(message: string, reference: string): string {
  const bare = reference.replace(/^container:/, '');
  for (const prefix of [`container:${bare}: `, `${bare}: `]) if (message.startsWith(prefix)) return message.slice(prefix.length);
  return message;
}

/** Cuts `text` to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
