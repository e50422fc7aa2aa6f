"""<< cookiecutter.description >>"""
