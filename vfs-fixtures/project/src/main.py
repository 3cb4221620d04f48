import pkg.util
print(pkg.util.answer())
