/**
 * The datasets in ../shared/data and the metrics their ground truth has (`gt_cos_…` or
 * `gt_l2_…`): what the recall test and the scale benchmark run over.
 */
export const SHARED_SETS = [
  ['glove-twitter-25d-12k', 'cosine'],
  ['glove-twitter-25d-12k', 'l2'],
  ['sap-fiori-docs-minilm-384', 'cosine'],
  ['sap-fiori-docs-minilm-384', 'l2'],
  ['sift-128-ngt5k', 'l2'],
  ['mnist-784-t10k', 'l2'],
  ['wordnet-fasttext-words-100d', 'cosine'],
  ['wordnet-fasttext-words-100d', 'l2'],
] as const
