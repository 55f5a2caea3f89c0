// What an answer, or a failed entry kept, quotes of a client's own text (a key path, a header, a
// name, a messageId) is cut short: quoted whole, a long key made answers and entries many times
// the body that carried it.
export function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
