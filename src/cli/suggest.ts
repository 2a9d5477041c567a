/**
 * "Did you mean …?" for a mistyped command or flag: the known word closest
 * to what was typed, by edit distance, when it is close enough to be the
 * one meant (at most a third of its letters wrong, and at least one right).
 */

/**
 * The edits (insert, delete, replace, swap of two neighbours) that turn `a`
 * into `b`: a typo's swapped letters count as one.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i]);
  for (let j = 1; j <= b.length; j++) (rows[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    const above = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const same = a[i - 1] === b[j - 1];
      let best = Math.min(
        (above[j - 1] as number) + (same ? 0 : 1),
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
      row[j] = best;
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** The known word `typed` most likely meant, or null when none is close. */
export function nearest(typed: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const word of known) {
    const distance = editDistance(typed.toLowerCase(), word);
    if (distance < bestDistance) {
      best = word;
      bestDistance = distance;
    }
  }
  const bound = Math.max(1, Math.floor((best?.length ?? 0) / 3));
  return best !== null && bestDistance <= bound && bestDistance < typed.length ? best : null;
}

/** ` Did you mean "x"?`, or nothing. */
export function didYouMean(typed: string, known: readonly string[]): string {
  const word = nearest(typed, known);
  return word === null ? '' : ` Did you mean "${word}"?`;
}
