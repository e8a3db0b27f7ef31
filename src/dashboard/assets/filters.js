// @ts-check
/**
 * The filter bar: which statuses to show, and words that must all match. `key=value` matches a
 * metadata entry (key exactly, value ignoring case); any other word matches part of the peer id
 * or of any metadata key or value.
 */
export class Filters {
  /** @param {HTMLFormElement} form @param {() => void} onChange */
  constructor(form, onChange) {
    this.form = form;
    /** @type {Set<string>} */
    this.statuses = new Set();
    /** @type {Array<{ key?: string, value: string }>} */
    this.words = [];
    this.read();
    form.addEventListener('input', () => {
      this.read();
      onChange();
    });
    form.addEventListener('submit', (event) => event.preventDefault());
  }

  read() {
    const data = new FormData(this.form);
    this.statuses = new Set(data.getAll('status').map(String));
    this.words = String(data.get('text') ?? '').trim().split(/\s+/).filter(Boolean).map((word) => {
      const eq = word.indexOf('=');
      return eq > 0 ? { key: word.slice(0, eq), value: word.slice(eq + 1).toLowerCase() } : { value: word.toLowerCase() };
    });
  }

  /**
   * @param {string} id
   * @param {string} status
   * @param {Record<string, string>} metadata
   */
  matches(id, status, metadata) {
    if (!this.statuses.has(status)) return false;
    for (const word of this.words) {
      if (word.key !== undefined) {
        if (!Object.hasOwn(metadata, word.key) || String(metadata[word.key]).toLowerCase() !== word.value) return false;
      } else if (!id.toLowerCase().includes(word.value)
        && !Object.entries(metadata).some(([k, v]) => k.toLowerCase().includes(word.value) || String(v).toLowerCase().includes(word.value))) {
        return false;
      }
    }
    return true;
  }
}
