//! The workbook stream of an .xls file (a compound file), found the way calamine finds it —
//! the same sectors, chains and directory — with every chain bounded and every index checked,
//! so that a file this accepts cannot make calamine's own reading loop, index out of bounds or
//! grow without end. calamine reads the file again afterwards; this only checks and measures.

/// Why a compound file is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CfbError {
    /// Not a compound file, or one that calamine would not read.
    Broken,
    /// An Office file encrypted with a password (its package is a compound file).
    Encrypted,
}

const SIGNATURE: &[u8; 8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const DIFSECT: u32 = 0xFFFF_FFFC;
const RESERVED_SECTORS: u32 = 0xFFFF_FFFA;

/// Whether `bytes` begin as a compound file.
pub(crate) fn is_cfb(bytes: &[u8]) -> bool {
    bytes.starts_with(SIGNATURE)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn words(b: &[u8]) -> impl Iterator<Item = u32> + '_ {
    b.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Sectors of `size` bytes in `data`, as calamine addresses them: an id past `maxid` is an
/// error, a sector past the end of the data is short or empty.
struct Sectors<'a> {
    data: &'a [u8],
    size: usize,
    maxid: u64,
}

impl<'a> Sectors<'a> {
    fn get(&self, id: u32) -> Result<&'a [u8], CfbError> {
        if id as u64 > self.maxid {
            return Err(CfbError::Broken);
        }
        let start = (id as usize).saturating_mul(self.size).min(self.data.len());
        let end = start.saturating_add(self.size).min(self.data.len());
        Ok(&self.data[start..end])
    }

    /// The chain from `id` through `fats`, up to `len` bytes. A chain longer than there are
    /// sectors loops, and an id the table does not hold is out of bounds: both refused.
    fn chain(&self, mut id: u32, fats: &[u32], len: usize) -> Result<Vec<u8>, CfbError> {
        let mut out = Vec::new();
        let mut steps = 0u64;
        while id != ENDOFCHAIN {
            steps += 1;
            if steps > self.maxid + 1 {
                return Err(CfbError::Broken);
            }
            let sector = self.get(id)?;
            let take = sector.len().min(len - out.len());
            out.extend_from_slice(&sector[..take]);
            if out.len() >= len {
                break;
            }
            id = *fats.get(id as usize).ok_or(CfbError::Broken)?;
        }
        Ok(out)
    }
}

/// The `Workbook` (or older `Book`) stream of an .xls file.
pub(crate) fn workbook_stream(bytes: &[u8]) -> Result<Vec<u8>, CfbError> {
    if bytes.len() < 512 || !is_cfb(bytes) {
        return Err(CfbError::Broken);
    }
    let version = u16_at(bytes, 26);
    let size = match u16_at(bytes, 30) {
        0x09 => 512,
        0x0C if bytes.len() >= 4096 => 4096,
        _ => return Err(CfbError::Broken),
    };
    if u16_at(bytes, 32) != 0x06 {
        return Err(CfbError::Broken);
    }
    let dir_start = u32_at(bytes, 48);
    let mini_fat_start = u32_at(bytes, 60);
    let mini_fat_len = u32_at(bytes, 64) as usize;
    let difat_start = u32_at(bytes, 68);
    let maxid = (bytes.len() / size) as u64;
    let sectors = Sectors {
        data: &bytes[size..],
        size,
        maxid,
    };

    let mut difat: Vec<u32> = words(&bytes[76..512]).collect();
    let mut id = difat_start;
    let mut steps = 0u64;
    while id < RESERVED_SECTORS {
        steps += 1;
        if steps > maxid + 1 {
            return Err(CfbError::Broken);
        }
        difat.extend(words(sectors.get(id)?));
        id = difat.pop().ok_or(CfbError::Broken)?;
    }
    // A file has no more FAT sectors than sectors: more repeats some and multiplies the table.
    let fat_sectors: Vec<u32> = difat.into_iter().filter(|id| *id < DIFSECT).collect();
    if fat_sectors.len() as u64 > maxid + 1 {
        return Err(CfbError::Broken);
    }
    let mut fats = Vec::new();
    for id in fat_sectors {
        fats.extend(words(sectors.get(id)?));
    }

    let dirs = sectors.chain(dir_start, &fats, usize::MAX)?;
    let dirs: Vec<(String, u32, usize)> = dirs
        .chunks_exact(128)
        .map(|d| {
            let units: Vec<u16> = d[..64]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            let mut name = String::from_utf16_lossy(&units);
            if let Some(nul) = name.find('\0') {
                name.truncate(nul);
            }
            let len = if size == 512 {
                u32_at(d, 120) as u64
            } else {
                u64::from_le_bytes(d[120..128].try_into().unwrap_or([0; 8]))
            };
            (name, u32_at(d, 116), usize::try_from(len).unwrap_or(usize::MAX))
        })
        .collect();
    let Some(root) = dirs.first() else {
        return Err(CfbError::Broken);
    };
    if version != 3 && root.1 == ENDOFCHAIN {
        return Err(CfbError::Broken);
    }
    if dirs.iter().any(|d| d.0.eq_ignore_ascii_case("EncryptedPackage")) {
        return Err(CfbError::Encrypted);
    }
    let (mini_fats, ministream) = if mini_fat_len > 0 {
        let ministream = sectors.chain(root.1, &fats, root.2)?;
        let minifat = sectors.chain(mini_fat_start, &fats, mini_fat_len.saturating_mul(size))?;
        (words(&minifat).collect::<Vec<u32>>(), ministream)
    } else {
        (Vec::new(), Vec::new())
    };
    let stream = ["Workbook", "Book"]
        .iter()
        .find_map(|n| dirs.iter().find(|d| d.0.eq_ignore_ascii_case(n)))
        .ok_or(CfbError::Broken)?;
    if stream.2 < 4096 {
        // calamine fills the mini stream out to a mini sector it asks for past its end, up to
        // eight times the file: the chain must stay inside the mini stream.
        let minis = Sectors {
            data: &ministream,
            size: 64,
            maxid: (ministream.len() as u64).div_ceil(64).saturating_sub(1).min(maxid * 8),
        };
        minis.chain(stream.1, &mini_fats, stream.2)
    } else {
        sectors.chain(stream.1, &fats, stream.2)
    }
}
