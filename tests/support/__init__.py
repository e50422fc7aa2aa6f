"""What the template's tests share: rendering, running commands, services, images and act."""
