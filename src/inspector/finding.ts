/** What `inspect --verify` reports, one thing wrong at a time (verify.ts, served-view.ts). */
export interface Finding {
  /** What is wrong, naming the file (and line). */
  problem: string;
  /** What `--repair` would do about it; absent when it needs a person. */
  repair?: string;
  /** Files set aside for a person to look at (what a repair leaves behind). */
  forReview?: boolean;
  /** Another program's change, which the next start adopts (what a repair leaves for it). */
  adoptedByStart?: boolean;
}
