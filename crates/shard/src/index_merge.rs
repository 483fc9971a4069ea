//! Several TSM files' indexes walked together in key order, one key at a time, holding one
//! entry per file: a shard's merged key list without collecting it.
//!
//! Each file's index is sorted, so a k-way merge of the files' [`IndexIter`]s yields every
//! key once, in byte order, with the entries of every file holding it. The head of each
//! file is found by a linear scan: shards hold a handful of files, and a scan of a few
//! pointers beats a heap's bookkeeping at that size.

use crate::Error;
use crate::file::{IndexEntry, IndexIter};

/// The merged walk; see the module documentation.
#[derive(Debug)]
pub struct IndexMerge<'a> {
    iters: Vec<Option<IndexIter<'a>>>,
    heads: Vec<Option<IndexEntry<'a>>>,
    /// The file whose head is the smallest key (the first such file on ties).
    min: Option<usize>,
    errors: Vec<(usize, Error)>,
}

impl<'a> IndexMerge<'a> {
    /// A walk over `iters`, file `i` being `iters[i]`; `None` for a file with nothing to
    /// walk. Index errors end their file's walk and are kept for [`IndexMerge::take_errors`].
    pub fn new(iters: Vec<Option<IndexIter<'a>>>) -> IndexMerge<'a> {
        let mut merge = IndexMerge {
            heads: vec![None; iters.len()],
            iters,
            min: None,
            errors: Vec::new(),
        };
        for i in 0..merge.iters.len() {
            merge.advance(i);
        }
        merge.find_min();
        merge
    }

    fn advance(&mut self, i: usize) {
        let Some(iter) = self.iters[i].as_mut() else {
            self.heads[i] = None;
            return;
        };
        match iter.next_entry() {
            Ok(head) => self.heads[i] = head,
            Err(err) => {
                self.heads[i] = None;
                self.errors.push((i, err));
            }
        }
        if self.heads[i].is_none() {
            self.iters[i] = None;
        }
    }

    fn find_min(&mut self) {
        let mut min: Option<(usize, &[u8])> = None;
        for (i, head) in self.heads.iter().enumerate() {
            if let Some(head) = head
                && min.is_none_or(|(_, key)| head.key < key)
            {
                min = Some((i, head.key));
            }
        }
        self.min = min.map(|(i, _)| i);
    }

    /// The next key, without moving.
    pub fn peek(&self) -> Option<&'a [u8]> {
        self.min.and_then(|i| self.heads[i]).map(|e| e.key)
    }

    /// Moves past the next key: clears `entries` and fills it with (file, entry) of every
    /// file holding the key, in file order. Returns the key, `None` at the end.
    pub fn next_key(&mut self, entries: &mut Vec<(usize, IndexEntry<'a>)>) -> Option<&'a [u8]> {
        entries.clear();
        let key = self.peek()?;
        let first = self.min.unwrap_or(0);
        for i in first..self.heads.len() {
            // The first file's head is the key itself.
            if let Some(head) = self.heads[i].filter(|h| i == first || h.key == key) {
                entries.push((i, head));
                self.advance(i);
            }
        }
        self.find_min();
        Some(key)
    }

    /// Per file, the offset of the entry it would yield next (`None` once it has ended):
    /// where to resume with [`crate::file::TsmFile::index_at`].
    pub fn positions(&self) -> impl Iterator<Item = Option<u64>> + '_ {
        self.heads.iter().map(|h| h.map(|e| e.offset))
    }

    /// The index errors met so far, with their file, in the order met.
    pub fn take_errors(&mut self) -> Vec<(usize, Error)> {
        std::mem::take(&mut self.errors)
    }

    /// Whether an index error is waiting in [`IndexMerge::take_errors`].
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}
