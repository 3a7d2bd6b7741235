//! Compiles the wire contracts with protox (pure Rust, no `protoc`) and
//! generates the tonic clients and servers from the resulting descriptors.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/giif/agent/v1/agent.proto",
        "proto/tfplugin6/tfplugin6.proto",
        "proto/plugin/grpc_controller.proto",
        "proto/plugin/grpc_stdio.proto",
    ];
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    Ok(())
}
