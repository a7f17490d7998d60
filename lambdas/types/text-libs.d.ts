// Neither library ships type declarations; these are the parts we use.
declare module 'stopword' {
  /** English stop words (stopword's `eng` list). */
  export const eng: string[];
}
declare module 'wink-porter2-stemmer' {
  /** Porter2 (Snowball English) stem of one lowercase word. */
  const stem: (word: string) => string;
  export = stem;
}
