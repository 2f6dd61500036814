use certs::dstu::*;
fn main() {
    let key = SecretKey::generate(Params::named(6).unwrap()).unwrap();
    let public = key.public_key();
    let h = [7u8; 32];
    let sig = key.sign_hash(&h, ByteOrder::Little).unwrap();
    let t = std::time::Instant::now();
    let n = 200;
    for _ in 0..n {
        public.verify_hash(&h, &sig, ByteOrder::Little).unwrap();
    }
    let v = n as f64 / t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    for _ in 0..n {
        key.sign_hash(&h, ByteOrder::Little).unwrap();
    }
    let s = n as f64 / t.elapsed().as_secs_f64();
    println!("verify/s {v:.0} sign/s {s:.0}");
    let c = Curve::named(6).unwrap();
    let Point::Affine { x, y } = c.g else {
        panic!()
    };
    let f = &c.field;
    let mut a = x;
    let t = std::time::Instant::now();
    for _ in 0..1_000_000 {
        a = f.mul(&a, &y);
    }
    println!("mul {:?} ns", t.elapsed().as_nanos() / 1_000_000);
    let t = std::time::Instant::now();
    for _ in 0..1_000_000 {
        a = f.square(&a);
    }
    println!(
        "square {:?} ns {:?}",
        t.elapsed().as_nanos() / 1_000_000,
        a.0[0]
    );
}
#[allow(dead_code)]
fn field_speed() {}
