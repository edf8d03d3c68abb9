print("swiftfile-pack")
