//! The global CSPRNG behind the getrandom hook. Its own test binary (one process, one test),
//! because the global can be installed only once and the "before install" case must see it
//! empty.

use tls::csprng;

#[test]
fn global_generator_refuses_until_seeded_then_serves() {
    let mut buf = [0u8; 64];
    assert!(!csprng::is_installed());
    let err = csprng::fill_global(&mut buf).unwrap_err();
    assert_eq!(err.code().get(), csprng::NOT_SEEDED);
    assert_eq!(buf, [0u8; 64], "nothing is written before a seed exists");
    // Jitter alone must not create a generator.
    csprng::mix_global(b"timer jitter");
    assert!(csprng::fill_global(&mut buf).is_err());

    csprng::install_global([0x5a; 32]);
    assert!(csprng::is_installed());
    csprng::fill_global(&mut buf).unwrap();
    assert_ne!(buf, [0u8; 64]);
    let mut next = [0u8; 64];
    csprng::fill_global(&mut next).unwrap();
    assert_ne!(buf, next, "the stream moves on");

    // A second install mixes rather than resets: the output differs from a fresh
    // generator with the second seed.
    csprng::install_global([0x11; 32]);
    csprng::fill_global(&mut buf).unwrap();
    let mut fresh = csprng::Csprng::new([0x11; 32]);
    let mut fresh_out = [0u8; 64];
    fresh.fill(&mut fresh_out);
    assert_ne!(buf, fresh_out);

    csprng::mix_global(b"more jitter");
    csprng::fill_global(&mut buf).unwrap();
}
