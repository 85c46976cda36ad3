//! The encryption key file a single SQLite instance keeps beside its database:
//! 32 random bytes as hex, created once with mode 0600, never overwritten.
use sekisho_config::SecretBytes;
use std::io::Write;
use std::path::Path;

pub fn load_or_create(path: &Path) -> Result<SecretBytes, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(text.trim()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(e) => Err(e.to_string()),
    }
}

fn parse(hex: &str) -> Result<SecretBytes, String> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    bytes
        .and_then(SecretBytes::new)
        .ok_or_else(|| "not a 64-hex-digit key".to_string())
}

fn create(path: &Path) -> Result<SecretBytes, String> {
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut f) => {
            f.write_all(hex.as_bytes()).map_err(|e| e.to_string())?;
            f.sync_all().map_err(|e| e.to_string())?;
            tracing::info!(path = %path.display(), "created the encryption key file for TOTP secrets; back it up with the database");
            parse(&hex)
        }
        // Another process won the race: use its key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
            parse(text.trim())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_reused_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "garbage").unwrap();
        assert!(load_or_create(&path).is_err());
    }
}
