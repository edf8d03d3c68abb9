print("swiftfile")
